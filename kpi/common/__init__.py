"""What every wing says the same way: Vietnamese formats, typed text shown safely, the caller's scope,
store faults in one sentence, spreadsheet cells that never run. Imports nothing else of kpi.
"""
