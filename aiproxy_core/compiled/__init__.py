"""The hot path compiled with mypyc, beside the pure Python it is built from.

``scripts/install.sh`` builds the modules of :data:`~.modules.HOT_PATH_MODULES` into
``<venv>/aiproxy-compiled`` (:mod:`.build`). The package's import (:func:`.loader.use_compiled`)
loads them from there only while the build matches the sources it was made from, byte for byte;
otherwise, and with ``AIPROXY_PURE_PYTHON=1``, the ``.py`` files run as they are.
"""
