"""Field normalizers: small pure functions over one value, one module per kind of field.

Each returns the standardized value and the rule ids that fired, and never raises on any text.
The staging step applies them to the distinct values of a column and joins the results back.
"""
