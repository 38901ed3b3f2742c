// PLACEHOLDER: replaced by the real file.
