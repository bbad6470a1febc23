"""Monthly subscriptions: renewal dates and what the subscription page shows."""
