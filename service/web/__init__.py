"""The web wing: a worker that serves predictions, stores drawings and enqueues them, and follows the
versions the learner publishes. Its ASGI app is :mod:`.app`, its parts :mod:`.runtime`, its routes
:mod:`.routes`. It reads :mod:`service.core`; it never imports :mod:`service.learn`, and never TensorFlow.
"""
