"""The "Similar videos" panel of the sample modal: the open clip's most similar clips, as tiles.

It follows the modal: a new current sample redraws the tiles, a click on a tile opens that clip.
Ranking, labels and stills come from ``fiftyone_videorec.browse.panel_items``; this file lays them out.
"""

from __future__ import annotations

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_videorec import config

RUN_FIRST = {  # what is missing -> (operator that makes it, what the panel says)
    "embeddings": ("compute_video_embeddings", "No clip has an embedding yet: compute video embeddings, "
                   "then build the similarity index."),
    "index": ("build_video_similarity_index", f"No similarity index '{config.BRAIN_KEY}' yet: build it "
              "from the embeddings."),
}


class SimilarVideosPanel(foo.Panel):
    @property
    def config(self):
        return foo.PanelConfig(
            name="similar_videos", label="Similar videos", surfaces="modal", icon="video_library",
            help_markdown="The clips most similar to the open clip, best first, with their cosine score. "
                          "Click a still to open that clip.")

    def on_load(self, ctx):
        self._refresh(ctx)

    def on_change_current_sample(self, ctx):
        self._refresh(ctx)

    def on_change_dataset(self, ctx):
        self._refresh(ctx)

    def on_hide_same_group(self, ctx):
        ctx.panel.state.hide_same_group = bool(ctx.params.get("value"))
        self._refresh(ctx)

    def on_open_clip(self, ctx):
        ctx.ops.open_sample(id=ctx.params["sample_id"])

    def _refresh(self, ctx) -> None:
        """Recompute the tiles for the modal's sample into the panel's state."""
        from fiftyone_videorec.browse import missing_step, panel_items
        from fiftyone_videorec.errors import VideorecError

        state = ctx.panel.state
        state.missing, state.message, state.items = None, None, []
        if ctx.dataset is None or ctx.current_sample is None:
            state.message = "Open a clip to see the clips most like it."
            return
        state.missing = missing_step(ctx.dataset)
        if state.missing:
            return
        try:
            state.query = ctx.current_sample
            state.items = panel_items(ctx.dataset, ctx.current_sample, k=config.PANEL_K,
                                      hide_same_group=bool(state.hide_same_group))
        except VideorecError as error:
            state.message = str(error)

    def render(self, ctx):
        panel = types.Object()
        state = ctx.panel.state
        if state.missing:
            operator, message = RUN_FIRST[state.missing]
            panel.md(message, name="missing_note")  # not "missing": the state holds that name
            panel.btn("run_missing", label=f"Run {operator.replace('_', ' ')}", variant="contained",
                      on_click=f"{config.PLUGIN_NAME}/{operator}", prompt=True)
            return types.Property(panel, view=types.GridView(orientation="vertical", padding=2))
        panel.bool("hide_same_group", label="Hide clips from the same source group", default=False,
                   view=types.SwitchView(), on_change=self.on_hide_same_group)
        if state.message:
            panel.md(state.message, name="message_note")
        tiles = panel.grid("tiles", gap=2)
        for rank, item in enumerate(state.items or [], 1):
            tile = tiles.v_stack(f"tile_{rank}", gap=0.5, width="180px")
            tile.str("image", default=item["image"], view=types.ImageView(
                width="160px", height="160px", alt=item["label"] or item["sample_id"],
                operator=self.on_open_clip, params={"sample_id": item["sample_id"]}))
            group = f"  \n{item['group']}" if item["group"] else ""
            tile.md(f"**{rank}. {item['label']}**  \nscore {item['score']:.3f}{group}", name="caption")
        return types.Property(panel, view=types.GridView(orientation="vertical", padding=2))
