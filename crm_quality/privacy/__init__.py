"""A person's right to be forgotten: erasure from every layer of the warehouse and its files, and
a suppression list (keyed hashes of the erased identifiers) that keeps them out of later runs."""
