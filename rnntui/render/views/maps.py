"""The view of a conv or pool entry over an image: its steps are output positions, row by row."""
from __future__ import annotations

import numpy as np
from rich.text import Text

from rich.console import Group

from rnntui.engine import keys
from rnntui.render.maps import panels as featuremap
from rnntui.render.maps import pictures
from rnntui.render.cursor import position
from rnntui.render.doc import Figure
from rnntui.render.views.base import BOLD, PlaceView
from rnntui.render.views.recurrent import details_text


class MapView(PlaceView):
    kind = "map"
    step_noun = "position"

    def through_time(self, info) -> bool:
        return False  # its steps are output positions; a map's gradient is backpropagated, not through time

    def length(self, info, place):
        return info.entries[place.entry].steps

    def where(self, info, place, t):
        shape = info.entries[place.entry].out_shape[1:]
        pos = position(info, place, t)
        names = ("y", "x") if len(pos) == 2 else ("l",)
        return ", ".join(f"{n}={p}" for n, p in zip(names, pos)) + " of " + "×".join(str(s) for s in shape)

    def cell(self, trace, c, width):
        e = trace.info.entries[c.place(trace.info).entry]
        salient = pictures.saliency(trace, e, c, width)  # the backward pass of the entry that reads the image
        if not salient:
            return featuremap.map_panel(trace, c, width)
        return Group(featuremap.map_panel(trace, c, width), *salient)

    def states(self, trace, c, width, height):
        e = trace.info.entries[c.place(trace.info).entry]
        kernels = pictures.kernels(trace, e, c, width) if c.phase == "forward" else []
        if not kernels:
            return featuremap.overview(trace, c, width, height)
        return Group(featuremap.overview(trace, c, width, height), Text(""), *kernels)

    def gradients(self, trace, c, width, defer=False):
        return featuremap.gradient_summary(trace, c)

    def details(self, trace, c):
        info = trace.info
        place = c.place(info)
        entry = info.entries[place.entry]
        key = keys.out(entry.index)
        arr = trace[key] if c.phase == "forward" else trace[keys.grad(key)]
        ch = min(c.unit, arr.shape[1] - 1)
        name = "map" if c.phase == "forward" else "dL/dmap"
        vec = np.asarray(arr[c.sample][ch]).reshape(-1)
        u = min(c.t, vec.size - 1)
        return details_text({name: vec}, f"channel {c.unit}, sample {c.sample}", u,
                            f"position {position(info, place, u)}")

    def report(self, trace, place, index, opts) -> list:
        from rnntui.render.cursor import Cursor

        e = trace.info.entries[place.entry]
        out = []
        for phase in ("forward", "backward"):
            what = "Feature maps" if phase == "forward" else "Gradients dL/d(feature map)"
            out.append(Text(f"{what}, {keys.entry_prefix(e.index)} {e.type} {tuple(e.out_shape)}", BOLD))
            c = Cursor(phase=phase, place_index=index)
            maps = featuremap.maps_of(trace, c)
            out.append(Figure(featuremap.overview(trace, c, opts.width or 100, 40), "maps",
                              {"maps": maps, "scale": featuremap.map_scale(maps), "title": f"{what}, sample 0"}))
        return out + [Text("")]
