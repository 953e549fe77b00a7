"""The sciml-lab user interface: Panel / HoloViews views on top of :mod:`lab`.

``LabApp`` composes the whole lab (problem picker, model and training settings, live training
view, saved runs); ``serve`` runs it as a web app, one ``LabApp`` per browser session. In a
notebook (``extension`` sends the views' JavaScript with the output, so no CDN is needed)::

    from widgets import LabApp, extension
    extension()
    LabApp()

The views never compute anything themselves: they edit the configs ``lab`` declares, start a
:class:`lab.Trainer`, and draw the events it emits.
"""
__all__ = ["LabApp", "extension", "serve"]


def __getattr__(name: str):
    """The app's names, imported on first use: ``sciml-lab train`` and the training worker
    processes, which import :mod:`widgets.cli`, then never load Panel, HoloViews or Bokeh."""
    if name in __all__:
        from widgets import app

        return getattr(app, name)
    raise AttributeError(f"module 'widgets' has no attribute {name!r}")
