"""GitOps mode: steps proposed as commits / pull requests (docs/gitops.md)."""
