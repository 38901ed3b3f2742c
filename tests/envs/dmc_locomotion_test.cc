// PLACEHOLDER: replaced by the real test.
