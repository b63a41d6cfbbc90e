"""Webhook notifications on run events (see docs/notifications.md).

``fleet.notify.webhooks.Notifier`` follows the events table and POSTs signed JSON or Slack messages;
``fleet.notify.risk`` turns the risk list (handed over by the daemon after each reconcile) into
``cluster-at-risk`` events for the clusters entering it.
"""
