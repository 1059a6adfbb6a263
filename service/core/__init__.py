"""What both wings of the service share: one typed :class:`~service.core.settings.Settings`, the stores
(:mod:`service.core.storage`), the learn queue (:mod:`service.core.queue`), writers' memories
(:mod:`service.core.writers`), the metrics registry, and the parts every process builds from them once
(:mod:`service.core.parts`). Nothing here imports :mod:`service.web` or :mod:`service.learn`.
"""
