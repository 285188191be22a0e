"""The runtime shared by the node, postgres and redis exporters."""
