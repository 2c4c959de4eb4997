"""Sales views: `catalogue` (products, stores, categories), `orders` (list, detail, new order, refund, the 360°
panel) and `imports` (historical orders from CSV/XLSX). Each module owns its url patterns."""
