"""Training and evaluating models: the circuit-classifier base class, optimisers, the workflows."""
