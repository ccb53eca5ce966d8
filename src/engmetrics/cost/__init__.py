"""Cloud cost on FOCUS: reading exports, allocation, idle resources, budgets, commitments, unit cost."""
