"""The protocol-3 model file: container, value nodes, type registry and trust."""
