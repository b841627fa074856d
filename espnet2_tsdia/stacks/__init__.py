"""The stack behind every encoder and decoder: one interface, one transformer implementation."""
