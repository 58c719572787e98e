// No doc line first.
