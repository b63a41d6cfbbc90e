"""AWS EKS provider: ``adapter.EksProvider`` (boto3) and ``emulator.EksEmulator`` (moto + upgrade routes)."""
