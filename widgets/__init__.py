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
from widgets.app import LabApp, extension, serve

__all__ = ["LabApp", "extension", "serve"]
