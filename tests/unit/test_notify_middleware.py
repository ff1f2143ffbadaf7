"""RequestNotifier: the WSGI middleware that notifies each request and response."""
import os.path
import sys

import pytest
import webob
import webob.exc
from oslo_config import cfg

from messaging import options
from messaging.notify import middleware

NOTIFICATIONS_GROUP = 'oslo_messaging_notifications'


@pytest.fixture
def global_conf_notifies_to_test_driver(collected):
    """The middleware reads the global CONF, as oslo's does: point its
    notifications at the in-memory ``test`` driver and the ``fake`` transport,
    and take the overrides back afterwards."""
    options.register_notifier_opts(cfg.CONF)
    cfg.CONF.set_override('driver', ['test'], group=NOTIFICATIONS_GROUP)
    cfg.CONF.set_override('transport_url', 'fake://', group=NOTIFICATIONS_GROUP)
    yield collected
    cfg.CONF.clear_override('driver', group=NOTIFICATIONS_GROUP)
    cfg.CONF.clear_override('transport_url', group=NOTIFICATIONS_GROUP)


def hello_app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Answer', '42')])
    return [b'hello']


def failing_app(environ, start_response):
    raise ValueError('the application broke')


def sent(collected):
    """(event_type, priority, payload, publisher_id) of each notification."""
    return [(message['event_type'], priority, message['payload'], message['publisher_id'])
            for _ctxt, message, priority, _retry in collected]


def test_a_request_sends_http_request_then_http_response_at_info(
        global_conf_notifies_to_test_driver):
    app = middleware.RequestNotifier(hello_app, publisher_id='api.host1')
    request = webob.Request.blank('/servers?limit=2', method='GET',
                                  headers={'X-Auth-Token': 'secret-token'})
    response = request.get_response(app)
    assert response.status == '200 OK'
    assert response.body == b'hello'
    notifications = sent(global_conf_notifies_to_test_driver)
    assert [(event, priority, publisher) for event, priority, _payload, publisher
            in notifications] == [('http.request', 'INFO', 'api.host1'),
                                  ('http.response', 'INFO', 'api.host1')]
    request_payload = notifications[0][2]
    assert set(request_payload) == {'request'}
    assert request_payload['request']['PATH_INFO'] == '/servers'
    assert request_payload['request']['QUERY_STRING'] == 'limit=2'
    response_payload = notifications[1][2]
    assert set(response_payload) == {'request', 'response'}
    assert response_payload['response']['status'] == '200 OK'
    assert response_payload['response']['headers']['X-Answer'] == '42'


def test_the_auth_token_and_lower_case_server_variables_are_never_sent(
        global_conf_notifies_to_test_driver):
    app = middleware.RequestNotifier(hello_app)
    request = webob.Request.blank('/', headers={'X-Auth-Token': 'secret-token'})
    request.environ['webob.some_state'] = 'server-side'
    request.get_response(app)
    for _event, _priority, payload, _publisher in sent(global_conf_notifies_to_test_driver):
        assert 'HTTP_X_AUTH_TOKEN' not in payload['request']
        assert 'secret-token' not in repr(payload)
        assert all(key.isupper() for key in payload['request'])


def test_service_name_defaults_to_the_request_host(global_conf_notifies_to_test_driver):
    request = webob.Request.blank('/', headers={'Host': 'compute.example:8774'})
    request.get_response(middleware.RequestNotifier(hello_app))
    named = middleware.RequestNotifier(hello_app, service_name='nova-api')
    webob.Request.blank('/').get_response(named)
    services = [payload['request']['HTTP_X_SERVICE_NAME'] for _e, _p, payload, _pub
                in sent(global_conf_notifies_to_test_driver)]
    assert services == ['compute.example:8774', 'compute.example:8774',
                        'nova-api', 'nova-api']


def test_publisher_id_defaults_to_the_program_name(global_conf_notifies_to_test_driver):
    webob.Request.blank('/').get_response(middleware.RequestNotifier(hello_app))
    publishers = {publisher for _e, _p, _payload, publisher
                  in sent(global_conf_notifies_to_test_driver)}
    assert publishers == {os.path.basename(sys.argv[0])}


def test_ignored_methods_pass_through_without_a_notification(
        global_conf_notifies_to_test_driver):
    app = middleware.RequestNotifier(hello_app, ignore_req_list=' get, head')
    assert webob.Request.blank('/', method='GET').get_response(app).status == '200 OK'
    assert webob.Request.blank('/', method='HEAD').get_response(app).status == '200 OK'
    assert global_conf_notifies_to_test_driver == []
    webob.Request.blank('/', method='POST').get_response(app)
    assert len(global_conf_notifies_to_test_driver) == 2


def test_an_application_exception_is_notified_with_its_traceback_and_raised(
        global_conf_notifies_to_test_driver):
    app = middleware.RequestNotifier(failing_app)
    with pytest.raises(ValueError, match='the application broke'):
        webob.Request.blank('/').get_response(app)
    notifications = sent(global_conf_notifies_to_test_driver)
    assert [event for event, *_rest in notifications] == ['http.request', 'http.response']
    payload = notifications[1][2]
    assert set(payload) == {'request', 'exception'}
    assert payload['exception']['value'] == repr(ValueError('the application broke'))
    assert any('failing_app' in frame for frame in payload['exception']['traceback'])


def test_an_error_response_is_a_response_not_an_exception(
        global_conf_notifies_to_test_driver):
    app = middleware.RequestNotifier(webob.exc.HTTPNotFound())
    assert webob.Request.blank('/').get_response(app).status_int == 404
    payload = sent(global_conf_notifies_to_test_driver)[1][2]
    assert payload['response']['status'] == '404 Not Found'


def test_a_failing_notification_is_logged_and_the_request_still_served(
        global_conf_notifies_to_test_driver, caplog):
    app = middleware.RequestNotifier(hello_app)

    def broken_info(*_args, **_kwargs):
        raise RuntimeError('notification transport down')
    app.notifier.info = broken_info
    response = webob.Request.blank('/').get_response(app)
    assert response.body == b'hello'
    failures = [record for record in caplog.records
                if record.name == 'messaging.notify.middleware']
    assert len(failures) == 2
    assert 'notification transport down' in failures[0].getMessage()


def test_paste_factory_merges_local_options_over_global_ones(
        global_conf_notifies_to_test_driver):
    make_filter = middleware.RequestNotifier.factory(
        {'publisher_id': 'global-publisher', 'service_name': 'global'},
        service_name='local')
    app = make_filter(hello_app)
    assert isinstance(app, middleware.RequestNotifier)
    assert app.application is hello_app
    assert app.service_name == 'local'
    webob.Request.blank('/').get_response(app)
    assert sent(global_conf_notifies_to_test_driver)[0][3] == 'global-publisher'
