"""The checker of the locally-connected-layer exercise: right answers pass, a stub gets its hint,
and the typical mistakes get their own explanation, never a traceback."""

import torch
import torch.nn.functional as F

from dltheory import homework


def by_unfold(x, weight, bias, stride):
    """The intended answer: im2col with F.unfold, one filter per column, an einsum."""
    out_h, out_w, c_out = weight.shape[:3]
    columns = F.unfold(x, weight.shape[-2:], stride=stride)
    filters = weight.reshape(out_h * out_w, c_out, -1)
    out = torch.einsum("nkl,lok->nol", columns, filters) + bias.reshape(c_out, -1)
    return out.reshape(x.shape[0], c_out, out_h, out_w)


def by_loops(x, weight, bias, stride):
    """Another right answer, location by location."""
    out_h, out_w, c_out, _, kh, kw = weight.shape
    sh, sw = stride
    out = torch.empty(x.shape[0], c_out, out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = torch.einsum("ncab,ocab->no", window, weight[i, j]) + bias[:, i, j]
    return out


def check(fn):
    feedback = homework.check_locally_connected(fn)
    assert "Traceback" not in str(feedback)
    return feedback


def test_right_answers_pass():
    for fn in (by_unfold, by_loops):
        feedback = check(fn)
        assert feedback.passed and str(feedback).startswith("Correct.")
        assert "4 test cases" in str(feedback)


def test_stub_and_none_get_hints():
    def stub(x, weight, bias, stride):
        raise NotImplementedError

    feedback = check(stub)
    assert not feedback.passed and "not implemented yet" in str(feedback) and "F.unfold" in str(feedback)
    feedback = check(lambda x, weight, bias, stride: None)
    assert not feedback.passed and "forget to `return`" in str(feedback)


def test_a_convolution_is_named():
    def conv(x, weight, bias, stride):
        return F.conv2d(x, weight[0, 0], bias[:, 0, 0], stride=stride)

    feedback = check(conv)
    assert not feedback.passed and "that is a convolution" in str(feedback)


def test_missing_bias_is_named():
    def no_bias(x, weight, bias, stride):
        return by_unfold(x, weight, torch.zeros_like(bias), stride)

    feedback = check(no_bias)
    assert not feedback.passed and "bias is missing" in str(feedback)


def test_forgotten_stride_and_reshape_are_named():
    def no_stride(x, weight, bias, stride):
        columns = F.unfold(x, weight.shape[-2:])
        filters = weight.reshape(-1, weight.shape[2], columns.shape[1])
        out = torch.einsum("nkl,ok->nol", columns, filters[0])
        return out.reshape(x.shape[0], weight.shape[2], x.shape[2] - weight.shape[-2] + 1, -1)

    feedback = check(no_stride)
    assert not feedback.passed and "pass stride=stride to F.unfold" in str(feedback)

    def flat(x, weight, bias, stride):
        return by_unfold(x, weight, bias, stride).flatten(2)

    feedback = check(flat)
    assert not feedback.passed and "reshape the (n, out_channels, H' W') result" in str(feedback)


def test_wrong_location_order_is_named():
    def column_major(x, weight, bias, stride):
        out_h, out_w, c_out = weight.shape[:3]
        columns = F.unfold(x, weight.shape[-2:], stride=stride)
        filters = weight.transpose(0, 1).reshape(out_h * out_w, c_out, -1)
        out = torch.einsum("nkl,lok->nol", columns, filters) + bias.reshape(c_out, -1)
        return out.reshape(x.shape[0], c_out, out_h, out_w)

    feedback = check(column_major)
    assert not feedback.passed and "row by row" in str(feedback)


def test_wrong_window_order_is_named():
    def kernel_first(x, weight, bias, stride):
        out_h, out_w, c_out = weight.shape[:3]
        columns = F.unfold(x, weight.shape[-2:], stride=stride)
        filters = weight.permute(0, 1, 2, 4, 5, 3).reshape(out_h * out_w, c_out, -1)
        out = torch.einsum("nkl,lok->nol", columns, filters) + bias.reshape(c_out, -1)
        return out.reshape(x.shape[0], c_out, out_h, out_w)

    feedback = check(kernel_first)
    assert not feedback.passed and "channel first" in str(feedback)


def test_an_error_in_the_answer_is_reported_not_raised():
    def broken(x, weight, bias, stride):
        return torch.einsum("nkl,lok->nol", x, weight)

    feedback = check(broken)
    assert not feedback.passed and "raised RuntimeError" in str(feedback) and "test case 1" in str(feedback)
