"""The plots of each scenario, one module each (`PLOTS`: file name -> draw(plot data) -> Figure).

Drawing functions return figures and write nothing; `edgeload.reporting.report` saves them.
matplotlib is imported only here, so that reading and analysing a log never pays for it.
"""
