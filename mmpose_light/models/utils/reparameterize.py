"""Convert a whole model to its deploy (re-parameterized) form."""
import copy

from mmpose.models.pose_estimators.base import BasePoseEstimator
from torch import nn

__all__ = ['reparameterize_model']


def reparameterize_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold every re-parameterizable sub-module of ``model``.

    Calls ``switch_to_deploy(test_cfg)`` on each sub-module that has the
    method (such as :class:`RepVGGBlock` and :class:`RepVGGFusion`), passing
    the model's ``test_cfg`` when it has one, as MMPose's
    ``BasePoseEstimator.switch_to_deploy()`` does. A pose estimator's own
    method is skipped, since it is that same walk.

    Args:
        model (nn.Module): A pose estimator, a backbone or a block.
        inplace (bool): Convert ``model`` itself instead of a deep copy.
            Defaults to False.

    Returns:
        nn.Module: The converted model (``model`` itself if ``inplace``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError('reparameterize_model expects an nn.Module, got '
                        f'{type(model).__name__}')
    if not inplace:
        model = copy.deepcopy(model)
    test_cfg = getattr(model, 'test_cfg', None)
    # A list, because conversion replaces the modules being walked.
    for module in list(model.modules()):
        if isinstance(module, BasePoseEstimator):
            continue
        switch = getattr(module, 'switch_to_deploy', None)
        if callable(switch):
            switch(test_cfg)
    return model
