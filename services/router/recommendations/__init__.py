"""Recommendations in the router: issue, acknowledge, respond, escalate when overdue."""
