"""The workflow layer: the pair-programming graph, its settings file, runs and the builder agent."""
