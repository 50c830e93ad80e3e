"""Sandboxes, environment images, agents, the model gateway and grading."""
