"""Fusion methods: a registry of factories, a base class that handles checks and colour, and the methods."""
from methods._base import FusionMethod, check_pair
from methods._registry import (MethodSpec, Weights, create_method, get_method_spec, list_methods,
                               register_method, user_weight_files, waiting_for_user_files)
from methods._weights import WeightsNotFound, default_weights_dir

# One import per method module; importing registers the methods.
from methods import pixel_rules  # noqa: E402,F401
from methods import auifnet  # noqa: E402,F401
from methods import caf  # noqa: E402,F401
from methods import cddfuse  # noqa: E402,F401
from methods import csf  # noqa: E402,F401
from methods import cufd  # noqa: E402,F401
from methods import datfuse  # noqa: E402,F401
from methods import densefuse  # noqa: E402,F401
from methods import didfuse  # noqa: E402,F401
from methods import emma  # noqa: E402,F401
from methods import fusiongan  # noqa: E402,F401
from methods import ganmcc  # noqa: E402,F401
from methods import gifnet  # noqa: E402,F401
from methods import ifcnn  # noqa: E402,F401
from methods import lrrnet  # noqa: E402,F401
from methods import metafusion  # noqa: E402,F401
from methods import mfeif  # noqa: E402,F401
from methods import mufusion  # noqa: E402,F401
from methods import murf  # noqa: E402,F401
from methods import piafusion  # noqa: E402,F401
from methods import pmgi  # noqa: E402,F401
from methods import reconet  # noqa: E402,F401
from methods import rfn_nest  # noqa: E402,F401
from methods import sdnet  # noqa: E402,F401
from methods import seafusion  # noqa: E402,F401
from methods import smoa  # noqa: E402,F401
from methods import stdfusionnet  # noqa: E402,F401
from methods import superfusion  # noqa: E402,F401
from methods import swinfusion  # noqa: E402,F401
from methods import tardal  # noqa: E402,F401
from methods import u2fusion  # noqa: E402,F401
from methods import umf_cmgr  # noqa: E402,F401
from methods import ydtr  # noqa: E402,F401
from methods import dfecf  # noqa: E402,F401

__all__ = ['FusionMethod', 'MethodSpec', 'Weights', 'WeightsNotFound', 'check_pair', 'create_method',
           'default_weights_dir', 'get_method_spec', 'list_methods', 'register_method', 'user_weight_files',
           'waiting_for_user_files']
