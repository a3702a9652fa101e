"""Sending an issue to the list: plan, dispatch (workers, pacing, retries), reconcile."""
