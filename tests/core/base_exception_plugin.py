"""A plugin that raises a BaseException that is not an Exception when imported."""


class PluginAbort(BaseException):
    pass


raise PluginAbort("base exception at import")
