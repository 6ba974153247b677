"""memory_pressure"""
