"""Package versions for HC048's fix: the model and versions file (`versions`), the online indexes
(`index`, network code) and the choice between them (`resolvers`). Rules import `versions` only.
"""
