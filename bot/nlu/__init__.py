"""NLU backends behind one port (`bot.nlu.base.NLUBackend`)."""
