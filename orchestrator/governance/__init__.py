"""Governance: who may do what. Every entry point asks here before it acts."""
