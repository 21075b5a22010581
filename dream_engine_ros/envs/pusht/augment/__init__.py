"""PushT recordings for the augmentation pipeline and its tracking check."""
