"""The alerts service's pure rules: the status machine, who sees which alert, notification texts."""
