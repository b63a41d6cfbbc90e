"""Webhook notifications on run events (see docs/notifications.md).

``fleet.notify.webhooks.Notifier`` follows the events table and POSTs signed JSON or Slack messages;
``fleet.notify.risk.notify_risk`` is how the report module announces a cluster entering the risk list.
"""
