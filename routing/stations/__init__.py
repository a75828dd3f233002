"""Transfer-station (转运站) planning under CJJ/T 47-2016: where to build, which class, which
communities each serves, at the least yearly cost, over real road distances.

Modules: ``model`` (inputs and settings), ``inputs`` (file readers and validation),
``capacity`` (classes, Q = δ·n·q/1000), ``distances`` (road distances), ``solve`` (the
OR-Tools model), ``plan`` (one scenario, evaluated), ``report`` (CSV, GeoJSON, PNG, HTML),
``workflow`` (a whole run), ``demo`` (generated Shenzhen inputs), ``cli``.
"""
