"""The core model: firm population, policy instruments, parametric uncertainty, the Mesa model."""
