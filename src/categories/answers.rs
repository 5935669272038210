//! Validating answers to a category's questions.
