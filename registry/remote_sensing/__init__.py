"""Remote-sensing monitoring (遥感监测) of the registry's stands: scenes registered with their
SHA-256, disturbances detected between two dates (``gis_data.disturbance``), flagged stands
reviewed by an independent verifier, and confirmed reversals settled from the buffer pool
(``registry.ledger.reversals``)."""
