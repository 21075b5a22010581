"""PushT training: data generation and training of the frame, contact and agent models."""
