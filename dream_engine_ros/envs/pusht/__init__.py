"""Everything PushT (gym-pusht): specs, the structured object-layer model, readers, costs, simulator."""
