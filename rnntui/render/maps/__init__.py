"""Feature-map views of conv and pool entries.

geometry: which input pixels an output position reads (NumPy only);
draw: heatmaps as pre-laid-out cells (half-blocks in colour, shade characters without);
panels: the map, its receptive field and products, every channel at once, gradient sizes.
"""
