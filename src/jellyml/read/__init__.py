"""The read side: finding a snapshot in a checkpoint (``reader``) and describing it
(``describe``, behind ``jellyml show``). Nothing here unpickles or loads a model, imports
torch, or changes a repository."""
