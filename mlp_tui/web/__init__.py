"""``mlp-tui serve``: the debugger in a browser, one app process per tab (textual-serve).

Above ``ui`` in the layers (beside ``cli``): it starts ``python -m mlp_tui`` processes and
never imports the app itself. textual-serve is the optional ``web`` extra.
"""
