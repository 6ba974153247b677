"""The single-client FPS scenario: options, measurement loop, session, run, analysis."""
