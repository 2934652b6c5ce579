"""A team's own consumer: shipments counted per warehouse, each exactly once."""
