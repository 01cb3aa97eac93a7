"""Qt glue: binding tags to widgets, the repaint timer, screen loading, Designer, theme."""
