"""Scheduling: workspaces, jobs, the asyncio scheduler, experiments, tokens."""
