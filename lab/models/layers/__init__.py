"""Building blocks of the operator models, kept apart from the models that compose them."""
