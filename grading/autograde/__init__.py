"""Autograding: each submission judged and run in sandboxes, every score decided outside them, merged as it finishes."""
